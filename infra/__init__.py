"""Cloud resources as data (resources.yaml) and the tool that applies them."""
