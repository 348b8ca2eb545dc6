"""HTTP routes, one module per resource. Each validates, calls the library, converts back."""
