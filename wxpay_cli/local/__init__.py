"""This machine's files: the config file and its profiles, the credentials
(keys, APIv3 key) they name, and the audit log of what was done.
"""
