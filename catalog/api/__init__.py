"""TMF620 Product Catalog (read): the anti-corruption layer between the catalog and channels."""
