"""torch's dedicated matrix products (mm, bmm, dot): MatMul's math under the node names torch prints."""
from .matmul import MatMul


class Mm(MatMul):
    """(n, m) @ (m, p)."""


class Bmm(MatMul):
    """(b, n, m) @ (b, m, p)."""


class Dot(MatMul):
    """(n,) @ (n,) -> 0-d."""
