"""The compute protocol, sans-I/O: messages, framing and the hello handshake, command stages with clean/dirty
tracking, and the per-cluster command history with its reduction (DESIGN.md section 4)."""
