using System.Globalization;

namespace Streaming.Bench;

/// <summary>
/// The machine a benchmark ran on, as every benchmark prints it first: the CPU model (<c>/proc/cpuinfo</c>'s model
/// name), the cores this process may use and the load averages (<c>/proc/loadavg</c>). Figures from a shared or a
/// different machine are only comparable with these beside them.
/// </summary>
public static class MachineInfo
{
    /// <summary>"machine: AMD EPYC, 2 cores, load average 1.23 0.80 0.50 (1/5/15 min)".</summary>
    public static string Line() => "machine: " + Describe();

    /// <summary>"AMD EPYC, 2 cores, load average 1.23 0.80 0.50 (1/5/15 min)".</summary>
    public static string Describe() => Describe(CpuModel(), Environment.ProcessorCount, LoadAverage());

    public static string Describe(string cpuModel, int cores, string loadAverage) =>
        string.Create(CultureInfo.InvariantCulture, $"{cpuModel}, {cores} cores, load average {loadAverage} (1/5/15 min)");

    /// <summary>The first model name in /proc/cpuinfo, or "unknown CPU" where there is none.</summary>
    public static string CpuModel() => CpuModelOf(ReadOrEmpty("/proc/cpuinfo"));

    /// <summary>The 1, 5 and 15-minute load averages from /proc/loadavg ("1.23 0.80 0.50"), or "n/a".</summary>
    public static string LoadAverage() => LoadAverageOf(ReadOrEmpty("/proc/loadavg"));

    public static string CpuModelOf(string cpuinfo)
    {
        ArgumentNullException.ThrowIfNull(cpuinfo);
        foreach (var line in cpuinfo.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim() == "model name" && line[(colon + 1)..].Trim() is { Length: > 0 } model)
            {
                return model;
            }
        }

        return "unknown CPU";
    }

    public static string LoadAverageOf(string loadavg)
    {
        ArgumentNullException.ThrowIfNull(loadavg);
        var parts = loadavg.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 3 ? string.Join(' ', parts[..3]) : "n/a";
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}
