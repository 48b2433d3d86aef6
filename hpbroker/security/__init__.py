"""Security below the request path: TLS contexts and certificate principals (tls.py,
principal_mapping.py), SASL (sasl_server.py for clients' connections, sasl_client.py for
hpbroker's own, scram.py, jaas.py), SCRAM credentials and ACLs with their stores
(credentials.py, acl.py, authorizer.py, stores.py). Nothing here touches a socket: the server
layer drives the TLS objects and hands SASL tokens in and out."""
