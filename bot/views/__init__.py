"""What people see: texts (through i18n) and buttons as plain data, rendered from service results.

Handlers and outbox jobs both render through here, so a message looks the same however it is sent.
"""
