"""A smooth map over an image: values on a coarse grid of nodes, bilinear in between.

Sky brightness, vignetting and cloud transmission vary slowly across a frame. They are
computed at the nodes of a coarse grid spanning the image (corner to corner, pixel edges
included) and interpolated bilinearly, both to whole images (as two small matrix products)
and to single positions such as stars, so a star and the pixels around it see the same value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DEFAULT_GRID", "SmoothField"]

#: Nodes of the default grid: (rows, columns).
DEFAULT_GRID: tuple[int, int] = (17, 25)


def _weights(coords: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left node index and fraction towards the right node of each coordinate."""
    step = nodes[1] - nodes[0]
    pos = (np.asarray(coords, dtype=float) - nodes[0]) / step
    index = np.clip(np.floor(pos).astype(np.int64), 0, len(nodes) - 2)
    return index, np.clip(pos - index, 0.0, 1.0)


class SmoothField:
    """Values at the nodes of a regular grid spanning an image.

    Parameters
    ----------
    values : numpy.ndarray
        Node values, shape ``(ny, nx)`` with ``ny, nx >= 2``.
    shape : (int, int)
        Image shape (rows, columns), in pixels.
    """

    def __init__(self, values: np.ndarray, shape: tuple[int, int]):
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or min(values.shape) < 2:
            raise ValueError(
                f"node values must be 2-D with at least 2 x 2 nodes, not {values.shape}"
            )
        self.values = values
        self.shape = (int(shape[0]), int(shape[1]))
        self.x_nodes, self.y_nodes = self.node_axes(self.shape, values.shape)

    @staticmethod
    def node_axes(shape: tuple[int, int], grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Return the node coordinates along x (columns) and y (rows).

        Parameters
        ----------
        shape : (int, int)
            Image shape (rows, columns), in pixels.
        grid : (int, int)
            Number of nodes (rows, columns).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            0-based pixel coordinates from -0.5 to ``size - 0.5``.
        """
        rows, cols = shape
        return np.linspace(-0.5, cols - 0.5, grid[1]), np.linspace(-0.5, rows - 0.5, grid[0])

    @classmethod
    def node_positions(
        cls, shape: tuple[int, int], grid: tuple[int, int] = DEFAULT_GRID
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the x and y pixel coordinates of every node, each of shape ``grid``.

        Parameters
        ----------
        shape : (int, int)
            Image shape (rows, columns), in pixels.
        grid : (int, int)
            Number of nodes (rows, columns).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Node x and y, in pixels.
        """
        x, y = cls.node_axes(shape, grid)
        return np.meshgrid(x, y)

    @classmethod
    def from_function(
        cls,
        function: Callable[[np.ndarray, np.ndarray], np.ndarray],
        shape: tuple[int, int],
        grid: tuple[int, int] = DEFAULT_GRID,
    ) -> SmoothField:
        """Build a field by evaluating ``function(x, y)`` at the nodes.

        Parameters
        ----------
        function : callable
            Takes node x and y (pixels, arrays of shape ``grid``), returns their values.
        shape : (int, int)
            Image shape (rows, columns), in pixels.
        grid : (int, int)
            Number of nodes (rows, columns).

        Returns
        -------
        SmoothField
            The field.
        """
        x, y = cls.node_positions(shape, grid)
        return cls(np.broadcast_to(function(x, y), x.shape), shape)

    def __mul__(self, other: SmoothField | float) -> SmoothField:
        if isinstance(other, SmoothField):
            if other.values.shape != self.values.shape or other.shape != self.shape:
                raise ValueError("fields on different grids cannot be multiplied")
            return SmoothField(self.values * other.values, self.shape)
        return SmoothField(self.values * float(other), self.shape)

    __rmul__ = __mul__

    def at(self, x, y) -> np.ndarray:
        """Interpolate at positions.

        Parameters
        ----------
        x, y : float or array_like
            0-based pixel coordinates (column, row); outside the image the edge values hold.

        Returns
        -------
        numpy.ndarray
            Bilinear interpolation of the node values.
        """
        i, fx = _weights(x, self.x_nodes)
        j, fy = _weights(y, self.y_nodes)
        v = self.values
        top = v[j, i] * (1.0 - fx) + v[j, i + 1] * fx
        bottom = v[j + 1, i] * (1.0 - fx) + v[j + 1, i + 1] * fx
        return top * (1.0 - fy) + bottom * fy

    def _matrix(self, coords: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        index, frac = _weights(coords, nodes)
        matrix = np.zeros((len(coords), len(nodes)))
        rows = np.arange(len(coords))
        matrix[rows, index] = 1.0 - frac
        matrix[rows, index + 1] += frac
        return matrix

    def sample(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Interpolate on the grid of pixels ``rows`` x ``cols``.

        Parameters
        ----------
        rows, cols : numpy.ndarray of int
            Pixel rows and columns.

        Returns
        -------
        numpy.ndarray of float32
            Shape ``(len(rows), len(cols))``.
        """
        wy = self._matrix(np.asarray(rows, dtype=float), self.y_nodes)
        wx = self._matrix(np.asarray(cols, dtype=float), self.x_nodes)
        return ((wy @ self.values) @ wx.T).astype(np.float32)
