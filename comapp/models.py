"""No models. The module exists so that Django sends ``post_migrate`` for this app (see ``comapp.apps``)."""
