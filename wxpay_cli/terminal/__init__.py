"""What a person sees and types: `output` (the only module that prints),
`prompt` (the questions it asks), tables and QR codes, the clipboard, times in
the operator's words, and the message forwarded to a family.
"""
