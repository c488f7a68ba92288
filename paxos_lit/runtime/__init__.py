"""The same roles as real OS processes over TCP on loopback, with durable acceptor state."""
