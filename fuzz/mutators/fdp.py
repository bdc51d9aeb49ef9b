"""Bytes that atheris.FuzzedDataProvider reads back as chosen values: the inverse of its decoding,
for mutators of harnesses that decode actions with it (h2_codec).

atheris's provider takes integers (ConsumeIntInRange, PickValueInList) from the END of the data,
as LLVM's does: as many bytes as the range's span needs (1 up to 255, 2 up to 65535, ...), the first byte read
the most significant, the value taken modulo the range's size (a range of one value takes
nothing); ConsumeBool and ConsumeBytes take from the FRONT. So a script of values becomes a front
part and a back part: `around(data)` puts them around an input, and the script is read first,
exactly, before the input's own values, which decode as they did.
"""


class Script:
    def __init__(self) -> None:
        self.front = bytearray()
        self.back: list[bytes] = []  # one chunk per integer, in the order they are read

    def integer(self, value: int, low: int, high: int) -> None:
        span = high - low
        if not low <= value <= high:
            raise ValueError(f"{value} outside {low}..{high}")
        if span:
            width = (span.bit_length() + 7) // 8
            self.back.append((value - low).to_bytes(width, "little"))  # read from the end: last byte first

    def pick(self, index: int, choices: int) -> None:
        self.integer(index, 0, choices - 1)

    def boolean(self, value: bool) -> None:
        self.front.append(1 if value else 0)

    def raw(self, data: bytes) -> None:
        self.front += data

    def around(self, data: bytes) -> bytes:
        return bytes(self.front) + data + b"".join(reversed(self.back))
