"""The Dash app and the Flask routes beside it."""
