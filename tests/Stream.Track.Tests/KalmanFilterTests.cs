using Streaming.Track;

namespace Streaming.Track.Tests;

public class KalmanFilterTests
{
    // Measurement (cx, cy, a, h) = (100, 200, 0.5, 100): position std = 2 * h / 20 = 10, velocity std = 10 * h / 160 = 6.25.
    private const double PosVar = 100.0;
    private const double VelVar = 6.25 * 6.25; // 39.0625

    [Fact]
    public void Initiate_sets_the_measurement_and_ByteTrack_initial_uncertainty()
    {
        var mean = new double[8];
        var cov = new double[64];
        KalmanFilterXyah.Initiate(100, 200, 0.5, 100, mean, cov);
        Assert.Equal(new double[] { 100, 200, 0.5, 100, 0, 0, 0, 0 }, mean);
        Assert.Equal(PosVar, cov[0 * 9], 9);
        Assert.Equal(PosVar, cov[1 * 9], 9);
        Assert.Equal(1e-4, cov[2 * 9], 12);
        Assert.Equal(PosVar, cov[3 * 9], 9);
        Assert.Equal(VelVar, cov[4 * 9], 9);
        Assert.Equal(1e-10, cov[6 * 9], 15);
        Assert.Equal(0, cov[0 * 8 + 4]);
    }

    [Fact]
    public void Predict_moves_by_the_velocity_and_grows_the_covariance_by_hand_computed_amounts()
    {
        var mean = new double[8];
        var cov = new double[64];
        KalmanFilterXyah.Initiate(100, 200, 0.5, 100, mean, cov);
        mean[4] = 3; // vcx
        mean[5] = -2; // vcy
        KalmanFilterXyah.Predict(mean, cov);

        Assert.Equal(103, mean[0], 9);
        Assert.Equal(198, mean[1], 9);
        Assert.Equal(100, mean[3], 9);

        // P' = F P F^T + Q: P00 + P44 + (h/20)^2 = 100 + 39.0625 + 25; P04 = P44 = 39.0625; P44 + (h/160)^2.
        Assert.Equal(100 + 39.0625 + 25, cov[0], 9);
        Assert.Equal(39.0625, cov[0 * 8 + 4], 9);
        Assert.Equal(39.0625, cov[4 * 8 + 0], 9);
        Assert.Equal(39.0625 + 0.625 * 0.625, cov[4 * 8 + 4], 9);
        Assert.Equal(1e-4 + 1e-10 + 1e-4, cov[2 * 9], 12);
        Assert.Equal(0, cov[0 * 8 + 1]);
    }

    [Fact]
    public void Predict_over_a_dropped_frame_uses_two_steps_of_motion_and_noise()
    {
        var mean = new double[8];
        var cov = new double[64];
        KalmanFilterXyah.Initiate(10, 20, 0.4, 50, mean, cov); // position var 5^2 = 25, velocity var 3.125^2 = 9.765625
        mean[4] = 1;
        KalmanFilterXyah.Predict(mean, cov, 2.0);
        Assert.Equal(12, mean[0], 9);

        // P00 = 25 + dt^2 * 9.765625 + dt * (50/20)^2 = 25 + 39.0625 + 12.5
        Assert.Equal(76.5625, cov[0], 9);
        Assert.Equal(2 * 9.765625, cov[4], 9);
    }

    [Fact]
    public void Update_pulls_the_state_towards_the_measurement_by_the_Kalman_gain()
    {
        var mean = new double[8];
        var cov = new double[64];
        KalmanFilterXyah.Initiate(100, 200, 0.5, 100, mean, cov);
        KalmanFilterXyah.Predict(mean, cov);
        var p00 = 164.0625; // from the predict test
        var p40 = 39.0625;
        var p44 = 39.0625 + 0.390625;
        var s00 = p00 + 25; // + R = (h/20)^2

        KalmanFilterXyah.Update(mean, cov, 110, 200, 0.5, 100);

        Assert.Equal(100 + 10 * p00 / s00, mean[0], 9);
        Assert.Equal(10 * p40 / s00, mean[4], 9);
        Assert.Equal(200, mean[1], 9);
        Assert.Equal(p00 - p00 * p00 / s00, cov[0], 9);
        Assert.Equal(p40 - p00 * p40 / s00, cov[4 * 8 + 0], 9);
        Assert.Equal(p44 - p40 * p40 / s00, cov[4 * 8 + 4], 9);
        Assert.Equal(cov[0 * 8 + 4], cov[4 * 8 + 0], 12);
    }
}
