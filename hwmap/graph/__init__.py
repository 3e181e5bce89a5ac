"""Layer graphs: model sources, the dispatch-mode capture, the frozen IR and its JSON form."""
