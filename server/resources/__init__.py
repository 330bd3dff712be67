"""What the server knows at start-up and serves, without Flask: the loaded store, linked-data documents, dataset
statistics and dumps, the label index."""
