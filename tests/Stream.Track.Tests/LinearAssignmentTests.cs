using Streaming.Track;

namespace Streaming.Track.Tests;

public class LinearAssignmentTests
{
    [Fact]
    public void Solver_matches_brute_force_on_small_random_matrices()
    {
        var rng = new Random(42);
        var solver = new LinearAssignment();
        for (var trial = 0; trial < 600; trial++)
        {
            var rows = rng.Next(1, 7);
            var cols = rng.Next(1, 7);
            var cost = new double[rows * cols];
            for (var i = 0; i < cost.Length; i++)
            {
                // Mix of continuous costs, ties and large "forbidden" entries, as the tracker produces.
                cost[i] = rng.NextDouble() < 0.2 ? 1e6 : rng.NextDouble() < 0.2 ? 0.5 : rng.NextDouble();
            }

            var assign = new int[rows];
            var total = solver.Solve(cost, rows, cols, assign);
            var best = BruteForce(cost, rows, cols);

            Assert.Equal(best, total, 6);
            Assert.Equal(Math.Min(rows, cols), assign.Count(a => a >= 0));
            Assert.Equal(assign.Where(a => a >= 0).Count(), assign.Where(a => a >= 0).Distinct().Count());
            Assert.Equal(best, assign.Select((c, r) => c >= 0 ? cost[r * cols + c] : 0).Sum(), 6);
        }
    }

    [Fact]
    public void Solver_handles_empty_and_one_by_one_problems()
    {
        var solver = new LinearAssignment();
        var none = Array.Empty<int>();
        Assert.Equal(0, solver.Solve([], 0, 3, none));
        var one = new int[1];
        Assert.Equal(0.25, solver.Solve([0.25], 1, 1, one));
        Assert.Equal(0, one[0]);
        Assert.Equal(new[] { 1, 0 }, LinearAssignment.SolveOnce(new double[,] { { 5, 1 }, { 1, 5 } }));
    }

    private static double BruteForce(double[] cost, int rows, int cols)
    {
        // Assign min(rows, cols) pairs: enumerate injective maps from the smaller side into the larger one.
        var best = double.PositiveInfinity;
        if (rows <= cols)
        {
            Recurse(0, new bool[cols], 0);
        }
        else
        {
            RecurseT(0, new bool[rows], 0);
        }

        return best;

        void Recurse(int r, bool[] used, double sum)
        {
            if (r == rows)
            {
                best = Math.Min(best, sum);
                return;
            }

            for (var c = 0; c < cols; c++)
            {
                if (!used[c])
                {
                    used[c] = true;
                    Recurse(r + 1, used, sum + cost[r * cols + c]);
                    used[c] = false;
                }
            }
        }

        void RecurseT(int c, bool[] used, double sum)
        {
            if (c == cols)
            {
                best = Math.Min(best, sum);
                return;
            }

            for (var r = 0; r < rows; r++)
            {
                if (!used[r])
                {
                    used[r] = true;
                    RecurseT(c + 1, used, sum + cost[r * cols + c]);
                    used[r] = false;
                }
            }
        }
    }
}
