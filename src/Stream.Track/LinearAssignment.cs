namespace Streaming.Track;

/// <summary>
/// Optimal rectangular linear assignment (minimum total cost), the shortest-augmenting-path Hungarian method with
/// row and column potentials (Kuhn-Munkres in the Jonker-Volgenant form), O(n^2 m) for n rows &lt;= m columns.
/// Every row of the smaller side is assigned. An instance keeps grow-only scratch buffers, so repeated solves
/// allocate nothing; it is not thread-safe.
/// </summary>
public sealed class LinearAssignment
{
    private double[] _u = new double[16];
    private double[] _v = new double[16];
    private double[] _minv = new double[16];
    private int[] _p = new int[16];
    private int[] _way = new int[16];
    private bool[] _used = new bool[16];
    private double[] _transposed = new double[64];
    private int[] _colAssign = new int[16];

    /// <summary>
    /// Solves for the row-major <paramref name="rows"/> x <paramref name="cols"/> matrix <paramref name="cost"/>.
    /// <paramref name="rowToCol"/> receives each row's column, or -1 when the row is left out (only when rows &gt; cols).
    /// Returns the total cost of the assignment.
    /// </summary>
    public double Solve(ReadOnlySpan<double> cost, int rows, int cols, Span<int> rowToCol)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (cost.Length < rows * cols)
        {
            throw new ArgumentException("cost is smaller than rows x cols", nameof(cost));
        }

        if (rowToCol.Length < rows)
        {
            throw new ArgumentException("rowToCol is smaller than rows", nameof(rowToCol));
        }

        rowToCol[..rows].Fill(-1);
        if (rows == 0 || cols == 0)
        {
            return 0;
        }

        if (rows <= cols)
        {
            return SolveWide(cost, rows, cols, rowToCol);
        }

        // More rows than columns: solve the transpose (columns become rows) and invert the result.
        EnsureCapacity(ref _transposed, rows * cols);
        var t = _transposed.AsSpan(0, rows * cols);
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                t[c * rows + r] = cost[r * cols + c];
            }
        }

        EnsureCapacity(ref _colAssign, cols);
        var colToRow = _colAssign.AsSpan(0, cols);
        var total = SolveWide(t, cols, rows, colToRow);
        for (var c = 0; c < cols; c++)
        {
            if (colToRow[c] >= 0)
            {
                rowToCol[colToRow[c]] = c;
            }
        }

        return total;
    }

    /// <summary>Convenience for tests and tools: a new solver per call.</summary>
    public static int[] SolveOnce(double[,] cost)
    {
        ArgumentNullException.ThrowIfNull(cost);
        var rows = cost.GetLength(0);
        var cols = cost.GetLength(1);
        var flat = new double[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                flat[r * cols + c] = cost[r, c];
            }
        }

        var result = new int[rows];
        new LinearAssignment().Solve(flat, rows, cols, result);
        return result;
    }

    // n <= m. 1-based potentials as in the classic formulation; column 0 is a virtual start column.
    private double SolveWide(ReadOnlySpan<double> a, int n, int m, Span<int> rowToCol)
    {
        EnsureCapacity(ref _u, n + 1);
        EnsureCapacity(ref _v, m + 1);
        EnsureCapacity(ref _minv, m + 1);
        EnsureCapacity(ref _p, m + 1);
        EnsureCapacity(ref _way, m + 1);
        EnsureCapacity(ref _used, m + 1);
        var u = _u.AsSpan(0, n + 1);
        var v = _v.AsSpan(0, m + 1);
        var minv = _minv.AsSpan(0, m + 1);
        var p = _p.AsSpan(0, m + 1);
        var way = _way.AsSpan(0, m + 1);
        var used = _used.AsSpan(0, m + 1);
        u.Clear();
        v.Clear();
        p.Clear();
        way.Clear();

        for (var i = 1; i <= n; i++)
        {
            p[0] = i;
            var j0 = 0;
            minv.Fill(double.PositiveInfinity);
            used.Clear();
            do
            {
                used[j0] = true;
                var i0 = p[j0];
                var delta = double.PositiveInfinity;
                var j1 = -1;
                var rowOffset = (i0 - 1) * m;
                var ui0 = u[i0];
                for (var j = 1; j <= m; j++)
                {
                    if (used[j])
                    {
                        continue;
                    }

                    var cur = a[rowOffset + j - 1] - ui0 - v[j];
                    if (cur < minv[j])
                    {
                        minv[j] = cur;
                        way[j] = j0;
                    }

                    if (minv[j] < delta)
                    {
                        delta = minv[j];
                        j1 = j;
                    }
                }

                if (j1 < 0)
                {
                    // Only possible with NaN or infinite costs: refuse rather than loop forever.
                    throw new ArgumentException("cost matrix must hold finite numbers", nameof(a));
                }

                for (var j = 0; j <= m; j++)
                {
                    if (used[j])
                    {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minv[j] -= delta;
                    }
                }

                j0 = j1;
            }
            while (p[j0] != 0);

            do
            {
                var j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
            }
            while (j0 != 0);
        }

        var total = 0.0;
        for (var j = 1; j <= m; j++)
        {
            if (p[j] != 0)
            {
                rowToCol[p[j] - 1] = j - 1;
                total += a[(p[j] - 1) * m + j - 1];
            }
        }

        return total;
    }

    private static void EnsureCapacity<T>(ref T[] array, int size)
    {
        if (array.Length < size)
        {
            array = new T[Math.Max(size, array.Length * 2)];
        }
    }
}
