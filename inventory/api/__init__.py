"""TMF637 Product Inventory (read): the anti-corruption layer between the inventory and channels."""
