"""Transport: the gRPC servicers, their errors, limits and security, and proto <-> domain."""
