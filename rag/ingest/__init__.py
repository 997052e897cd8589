"""From files to clean text, sentences and chunks: loaders, splitting, chunking."""
