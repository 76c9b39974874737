namespace Streaming.Track.Tests;

public class SparseAssignmentTests
{
    [Fact]
    public void It_leaves_a_track_unmatched_rather_than_swap_two_identities_to_match_one_more_pair()
    {
        // Track 0 fits detection 0 well and detection 1 poorly; track 1 fits only detection 0, poorly (limit 0.8).
        // The most pairs would be 0->1 and 1->0, a swap; ByteTrack's objective keeps 0->0 and leaves track 1 unmatched.
        var solver = new SparseAssignment();
        solver.Add(0, 0, 0.1);
        solver.Add(0, 1, 0.7);
        solver.Add(1, 0, 0.75);
        var match = new int[2];

        solver.Solve(2, 2, 0.8, match);

        Assert.Equal([0, -1], match);
    }

    [Fact]
    public void It_finds_the_least_sum_of_cost_minus_limit_on_random_sparse_problems()
    {
        var rng = new Random(7);
        var solver = new SparseAssignment();
        for (var trial = 0; trial < 400; trial++)
        {
            var rows = rng.Next(1, 7);
            var cols = rng.Next(1, 7);
            var limit = 0.5 + (rng.NextDouble() * 0.4);
            var cost = new double?[rows, cols];
            solver.Clear();
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < cols; c++)
                {
                    if (rng.NextDouble() < 0.45)
                    {
                        cost[r, c] = rng.NextDouble() * limit;
                        solver.Add(r, c, cost[r, c]!.Value);
                    }
                }
            }

            var match = new int[rows];
            solver.Solve(rows, cols, limit, match);

            var used = new HashSet<int>();
            var total = 0.0;
            for (var r = 0; r < rows; r++)
            {
                if (match[r] >= 0)
                {
                    Assert.True(used.Add(match[r]), "a detection was given to two tracks");
                    total += cost[r, match[r]]!.Value - limit; // only edges added can be chosen
                }
            }

            Assert.Equal(Best(cost, rows, cols, limit, 0, new bool[cols]), total, 9);
        }
    }

    private static double Best(double?[,] cost, int rows, int cols, double limit, int row, bool[] used)
    {
        if (row == rows)
        {
            return 0;
        }

        var best = Best(cost, rows, cols, limit, row + 1, used); // row left unmatched
        for (var c = 0; c < cols; c++)
        {
            if (!used[c] && cost[row, c] is { } v)
            {
                used[c] = true;
                best = Math.Min(best, v - limit + Best(cost, rows, cols, limit, row + 1, used));
                used[c] = false;
            }
        }

        return best;
    }
}
