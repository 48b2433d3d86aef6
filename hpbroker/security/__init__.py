"""Security below the request path: TLS contexts and certificate principals (tls.py,
principal_mapping.py), SASL servers and clients (sasl_server.py, sasl_client.py, scram.py,
jaas.py), SCRAM credentials and ACLs with their stores (credentials.py, acl.py, authorizer.py,
stores.py, zk_stores.py). Nothing here touches a socket: the server layer drives the TLS
objects and hands SASL tokens in and out."""
