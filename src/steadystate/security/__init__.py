"""Security primitives shared by the processes: SCRAM-SHA-256 verifiers and exchanges, private files.

A bottom layer (it imports only ``errors``): the coordinator's adapter derives verifiers from passwords, pgwire
runs the server side of the SASL exchange, the entry points keep secrets in private files.  No cryptographic
primitive is written here: hashing, HMAC and PBKDF2 come from :mod:`hashlib` and :mod:`hmac`.
"""
