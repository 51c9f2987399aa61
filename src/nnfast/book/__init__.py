"""Drop-in replacements for the book's modules: `from nnfast.book import network2`."""
