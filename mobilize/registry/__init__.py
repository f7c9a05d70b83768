"""Registry services: importing volunteers, the demo district."""
