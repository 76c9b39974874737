namespace Streaming.Track;

/// <summary>
/// Optimal assignment over a sparse set of feasible (row, column, cost) edges, as a tracker's association produces
/// them: most tracks overlap only a few detections. The bipartite graph is split into connected components
/// (union-find), and each component is solved exactly as a small dense problem by <see cref="LinearAssignment"/>, so
/// the work stays small on crowded but spatially spread scenes.
/// <para>The objective is ByteTrack's (<c>lapjv(cost, extend_cost=True, cost_limit=limit)</c>): minimise the sum of
/// (cost - limit) over the chosen pairs. A pair costs less than leaving both ends unmatched only when its cost is
/// below the limit, and two tracks are never swapped just to match one more pair (the maximum-cardinality objective
/// it replaces did that: at TUD-Stadtmitte frame 40 it swapped two people's identities).</para>
/// <para>An instance keeps grow-only scratch buffers, so repeated solves allocate nothing; it is not thread-safe.</para>
/// </summary>
public sealed class SparseAssignment
{
    private const double Forbidden = 1e6;

    private readonly LinearAssignment _solver = new();
    private Edge[] _edges = new Edge[256];
    private int _edgeCount;
    private int[] _parent = new int[128];
    private int[] _componentOf = new int[128];
    private int[] _local = new int[128];
    private int[] _rowCount = new int[64];
    private int[] _colCount = new int[64];
    private int[] _edgeStart = new int[64];
    private int[] _edgeOrder = new int[256];
    private int[] _fill = new int[64];
    private int[] _rowsOf = new int[64];
    private int[] _colsOf = new int[64];
    private int[] _rowStart = new int[64];
    private int[] _colStart = new int[64];
    private double[] _dense = new double[256];
    private int[] _denseMatch = new int[64];

    /// <summary>A feasible pair: row (track), column (detection) and its cost.</summary>
    public readonly record struct Edge(int Row, int Col, double Cost);

    /// <summary>The edges added since the last <see cref="Clear"/>.</summary>
    public int EdgeCount => _edgeCount;

    public void Clear() => _edgeCount = 0;

    /// <summary>Adds a feasible pair; pairs not added can never be matched.</summary>
    public void Add(int row, int col, double cost)
    {
        if (_edgeCount == _edges.Length)
        {
            Array.Resize(ref _edges, _edgeCount * 2);
        }

        _edges[_edgeCount++] = new Edge(row, col, cost);
    }

    /// <summary>
    /// Solves over the edges added, for <paramref name="rows"/> rows and <paramref name="cols"/> columns (every edge's
    /// row and column must be below them). <paramref name="rowToCol"/> receives each row's column or -1. Edges with a
    /// cost above <paramref name="costLimit"/> are never chosen.
    /// </summary>
    public void Solve(int rows, int cols, double costLimit, Span<int> rowToCol)
    {
        rowToCol[..rows].Fill(-1);
        if (_edgeCount == 0)
        {
            return;
        }

        var components = FindComponents(rows, cols);
        GroupByComponent(rows, cols, components);
        for (var c = 0; c < components; c++)
        {
            SolveComponent(c, rows, costLimit, rowToCol);
        }
    }

    /// <summary>Union-find over nodes (rows 0..rows-1, columns rows..rows+cols-1); numbers the components that have edges.</summary>
    private int FindComponents(int rows, int cols)
    {
        var nodes = rows + cols;
        Grow(ref _parent, nodes);
        Grow(ref _componentOf, nodes);
        Grow(ref _local, nodes);
        for (var i = 0; i < nodes; i++)
        {
            _parent[i] = i;
            _componentOf[i] = -1;
        }

        foreach (ref readonly var e in _edges.AsSpan(0, _edgeCount))
        {
            var ra = Find(e.Row);
            var rb = Find(rows + e.Col);
            if (ra != rb)
            {
                _parent[ra] = rb;
            }
        }

        var components = 0;
        foreach (ref readonly var e in _edges.AsSpan(0, _edgeCount))
        {
            var r = Find(e.Row);
            if (_componentOf[r] < 0)
            {
                _componentOf[r] = components++;
            }
        }

        for (var i = 0; i < nodes; i++)
        {
            _componentOf[i] = _componentOf[Find(i)];
        }

        return components;
    }

    /// <summary>Lists each component's rows, columns (with their index inside the component) and edges, by counting sort.</summary>
    private void GroupByComponent(int rows, int cols, int components)
    {
        Grow(ref _rowCount, components + 1);
        Grow(ref _colCount, components + 1);
        Grow(ref _edgeStart, components + 1);
        Grow(ref _fill, components + 1);
        Grow(ref _rowsOf, rows);
        Grow(ref _colsOf, cols);
        Grow(ref _edgeOrder, _edgeCount);
        Array.Clear(_rowCount, 0, components + 1);
        Array.Clear(_colCount, 0, components + 1);
        Array.Clear(_edgeStart, 0, components + 1);
        for (var i = 0; i < rows + cols; i++)
        {
            var c = _componentOf[i];
            if (c >= 0)
            {
                (i < rows ? _rowCount : _colCount)[c + 1]++;
            }
        }

        foreach (ref readonly var e in _edges.AsSpan(0, _edgeCount))
        {
            _edgeStart[_componentOf[e.Row] + 1]++;
        }

        PrefixSum(_rowCount, components);
        PrefixSum(_colCount, components);
        PrefixSum(_edgeStart, components);
        Grow(ref _rowStart, components + 1);
        Grow(ref _colStart, components + 1);
        Array.Copy(_rowCount, _rowStart, components + 1);
        Array.Copy(_colCount, _colStart, components + 1);

        // Rows and columns in index order, each numbered inside its component.
        for (var i = 0; i < rows + cols; i++)
        {
            var c = _componentOf[i];
            if (c < 0)
            {
                continue;
            }

            if (i < rows)
            {
                _local[i] = _rowCount[c] - _rowStart[c];
                _rowsOf[_rowCount[c]++] = i;
            }
            else
            {
                _local[i] = _colCount[c] - _colStart[c];
                _colsOf[_colCount[c]++] = i - rows;
            }
        }

        Array.Copy(_edgeStart, _fill, components + 1);
        for (var e = 0; e < _edgeCount; e++)
        {
            _edgeOrder[_fill[_componentOf[_edges[e].Row]]++] = e;
        }
    }

    /// <summary>
    /// Solves one component exactly. A component with one row or one column takes its cheapest edge. Otherwise the r x c costs are extended as lapjv
    /// does with a cost limit: an (r + c) square matrix whose extra column per row and extra row per column cost
    /// limit / 2, so leaving a row and a column unmatched costs the limit and a pair is taken only when it saves.
    /// </summary>
    private void SolveComponent(int c, int rows, double costLimit, Span<int> rowToCol)
    {
        var r = _rowStart[c + 1] - _rowStart[c];
        var k = _colStart[c + 1] - _colStart[c];
        if (r == 1 || k == 1)
        {
            // One track or one detection: at most one pair, the cheapest (the common case, solved without a matrix).
            var best = -1;
            for (var j = _edgeStart[c]; j < _edgeStart[c + 1]; j++)
            {
                if (best < 0 || _edges[_edgeOrder[j]].Cost < _edges[best].Cost)
                {
                    best = _edgeOrder[j];
                }
            }

            ref readonly var pair = ref _edges[best];
            if (pair.Cost <= costLimit)
            {
                rowToCol[pair.Row] = pair.Col;
            }

            return;
        }

        var n = r + k;
        Grow(ref _dense, n * n);
        Grow(ref _denseMatch, n);
        var dense = _dense.AsSpan(0, n * n);
        var half = costLimit / 2;
        for (var i = 0; i < n; i++)
        {
            var row = dense.Slice(i * n, n);
            if (i < r)
            {
                row[..k].Fill(Forbidden);
                row[k..].Fill(half);
            }
            else
            {
                row[..k].Fill(half);
                row[k..].Clear();
            }
        }

        for (var j = _edgeStart[c]; j < _edgeStart[c + 1]; j++)
        {
            ref readonly var e = ref _edges[_edgeOrder[j]];
            dense[(_local[e.Row] * n) + _local[rows + e.Col]] = e.Cost;
        }

        _solver.Solve(dense, n, n, _denseMatch);
        for (var i = 0; i < r; i++)
        {
            var col = _denseMatch[i];
            if (col >= 0 && col < k && dense[(i * n) + col] <= costLimit)
            {
                rowToCol[_rowsOf[_rowStart[c] + i]] = _colsOf[_colStart[c] + col];
            }
        }
    }

    private int Find(int i)
    {
        while (_parent[i] != i)
        {
            _parent[i] = _parent[_parent[i]];
            i = _parent[i];
        }

        return i;
    }

    private static void PrefixSum(int[] counts, int components)
    {
        for (var c = 0; c < components; c++)
        {
            counts[c + 1] += counts[c];
        }
    }

    internal static void Grow<T>(ref T[] array, int size)
    {
        if (array.Length < size)
        {
            array = new T[Math.Max(size, array.Length * 2)];
        }
    }
}
