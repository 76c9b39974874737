namespace Streaming.Track;

/// <summary>
/// The constant-velocity Kalman filter of SORT / DeepSORT / ByteTrack on the state
/// (cx, cy, a, h, vcx, vcy, va, vh): box centre, aspect ratio w/h, height and their velocities per frame step.
/// Process and measurement noise are relative to the box height (std weights 1/20 for position, 1/160 for velocity),
/// as in ByteTrack. Means are 8 doubles and covariances 8x8 row-major doubles owned by the caller, so nothing is
/// allocated per update.
/// </summary>
public static class KalmanFilterXyah
{
    public const double StdWeightPosition = 1.0 / 20;
    public const double StdWeightVelocity = 1.0 / 160;

    /// <summary>Starts a track from a measurement (cx, cy, a, h) with zero velocity and ByteTrack's initial uncertainty.</summary>
    public static void Initiate(double cx, double cy, double a, double h, Span<double> mean, Span<double> covariance)
    {
        mean[0] = cx;
        mean[1] = cy;
        mean[2] = a;
        mean[3] = h;
        mean[4] = mean[5] = mean[6] = mean[7] = 0;
        covariance[..64].Clear();
        var p = 2 * StdWeightPosition * h;
        var v = 10 * StdWeightVelocity * h;
        covariance[0 * 9] = p * p;
        covariance[1 * 9] = p * p;
        covariance[2 * 9] = 1e-2 * 1e-2;
        covariance[3 * 9] = p * p;
        covariance[4 * 9] = v * v;
        covariance[5 * 9] = v * v;
        covariance[6 * 9] = 1e-5 * 1e-5;
        covariance[7 * 9] = v * v;
    }

    /// <summary>
    /// Predicts <paramref name="dt"/> frame steps ahead (1 for the next frame; fractional or larger steps when frames
    /// arrive faster or were dropped): x = F x, P = F P F^T + dt Q, with Q from the current height.
    /// </summary>
    public static void Predict(Span<double> mean, Span<double> covariance, double dt = 1.0)
    {
        var h = mean[3];
        var sp = StdWeightPosition * h;
        var sv = StdWeightVelocity * h;

        for (var i = 0; i < 4; i++)
        {
            mean[i] += dt * mean[i + 4];
        }

        // M = F P: rows 0..3 gain dt * rows 4..7.
        for (var r = 0; r < 4; r++)
        {
            for (var c = 0; c < 8; c++)
            {
                covariance[r * 8 + c] += dt * covariance[(r + 4) * 8 + c];
            }
        }

        // P = M F^T: columns 0..3 gain dt * columns 4..7.
        for (var r = 0; r < 8; r++)
        {
            for (var c = 0; c < 4; c++)
            {
                covariance[r * 8 + c] += dt * covariance[r * 8 + c + 4];
            }
        }

        covariance[0 * 9] += dt * sp * sp;
        covariance[1 * 9] += dt * sp * sp;
        covariance[2 * 9] += dt * 1e-2 * 1e-2;
        covariance[3 * 9] += dt * sp * sp;
        covariance[4 * 9] += dt * sv * sv;
        covariance[5 * 9] += dt * sv * sv;
        covariance[6 * 9] += dt * 1e-5 * 1e-5;
        covariance[7 * 9] += dt * sv * sv;
    }

    /// <summary>Corrects the state with a measurement (cx, cy, a, h): S = H P H^T + R, K = P H^T S^-1, x += K y, P -= K S K^T.</summary>
    public static void Update(Span<double> mean, Span<double> covariance, double cx, double cy, double a, double h)
    {
        var sp = StdWeightPosition * mean[3];
        Span<double> s = stackalloc double[16];
        for (var r = 0; r < 4; r++)
        {
            for (var c = 0; c < 4; c++)
            {
                s[r * 4 + c] = covariance[r * 8 + c];
            }
        }

        s[0] += sp * sp;
        s[5] += sp * sp;
        s[10] += 1e-1 * 1e-1;
        s[15] += sp * sp;

        // Cholesky S = L L^T (S is symmetric positive definite).
        Span<double> l = stackalloc double[16];
        l.Clear();
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = s[i * 4 + j];
                for (var k = 0; k < j; k++)
                {
                    sum -= l[i * 4 + k] * l[j * 4 + k];
                }

                if (i == j)
                {
                    l[i * 4 + i] = Math.Sqrt(Math.Max(sum, 1e-12));
                }
                else
                {
                    l[i * 4 + j] = sum / l[j * 4 + j];
                }
            }
        }

        // K^T = S^-1 (P H^T)^T: solve S X = B for each of the 8 columns of B = H P (4 x 8).
        Span<double> kt = stackalloc double[32];
        Span<double> y = stackalloc double[4];
        for (var col = 0; col < 8; col++)
        {
            // forward: L y = b
            for (var i = 0; i < 4; i++)
            {
                var sum = covariance[i * 8 + col];
                for (var k = 0; k < i; k++)
                {
                    sum -= l[i * 4 + k] * y[k];
                }

                y[i] = sum / l[i * 4 + i];
            }

            // backward: L^T x = y
            for (var i = 3; i >= 0; i--)
            {
                var sum = y[i];
                for (var k = i + 1; k < 4; k++)
                {
                    sum -= l[k * 4 + i] * kt[k * 8 + col];
                }

                kt[i * 8 + col] = sum / l[i * 4 + i];
            }
        }

        Span<double> innovation = [cx - mean[0], cy - mean[1], a - mean[2], h - mean[3]];
        for (var r = 0; r < 8; r++)
        {
            var sum = 0.0;
            for (var j = 0; j < 4; j++)
            {
                sum += kt[j * 8 + r] * innovation[j];
            }

            mean[r] += sum;
        }

        // P -= K (H P): (H P)[j, c] = P[j, c] for j < 4. Compute into a copy of the top rows first.
        Span<double> hp = stackalloc double[32];
        covariance[..32].CopyTo(hp);
        for (var r = 0; r < 8; r++)
        {
            for (var c = 0; c < 8; c++)
            {
                var sum = 0.0;
                for (var j = 0; j < 4; j++)
                {
                    sum += kt[j * 8 + r] * hp[j * 8 + c];
                }

                covariance[r * 8 + c] -= sum;
            }
        }
    }
}
