"""The shared contract of shortlink: what a link is, what makes it valid, how the table is encoded.

Everything in this package is pure: plain data in, plain data out, no I/O and no Kubernetes client.
The operator (`shortlink_operator`) and the redirector (`shortlink_redirector`) both build on it, so
a rule stated here holds on both sides of the routing table.
"""
