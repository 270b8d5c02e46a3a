"""One module per tab of the page: each lays out its tab and holds its request handlers."""
