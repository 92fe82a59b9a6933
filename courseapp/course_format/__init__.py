"""The course folder format (docs/COURSE_FORMAT.md): spec.py holds the typed specs,
reader.py reads and validates a folder into them, writer.py writes them back."""
