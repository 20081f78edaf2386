"""The operator CLI's client side: ``flowtrack launches|events|dead-letters`` talk to a
running flowtrack over its REST API (never to its database)."""
