"""Reading uploaded or imported text: UTF-8, or an error that names the line."""


class NotUTF8(ValueError):
    def __init__(self, line: int, column: int, byte: int):
        self.line, self.column = line, column
        super().__init__(f"byte 0x{byte:02x} at column {column} is not UTF-8; "
                         "save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet) and try again")


def utf8_text(data: bytes) -> str:
    """`data` as text (a BOM is dropped), or NotUTF8 with the line and column of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise NotUTF8(data[: exc.start].count(b"\n") + 1, exc.start - line_start + 1, data[exc.start]) from exc
