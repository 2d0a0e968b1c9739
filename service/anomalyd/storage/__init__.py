"""Storage: the transactional key-value Store protocol, its LMDB implementation, key formats."""
