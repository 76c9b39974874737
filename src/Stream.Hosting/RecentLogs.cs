using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Streaming.Hosting;

/// <summary>
/// In live-table mode the console belongs to the table: log messages are kept here instead, and the last few are shown
/// under the table.
/// </summary>
internal sealed class RecentLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly int _capacity;

    public RecentLogs(int capacity = 8) => _capacity = capacity;

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > _capacity && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(RecentLogs owner, string category) : ILogger
    {
        private readonly string _shortCategory = category[(category.LastIndexOf('.') + 1)..];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var level = logLevel switch
            {
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                LogLevel.Critical => "crit",
                _ => "info",
            };
            owner.Add(FormattableString.Invariant($"{DateTime.Now:HH:mm:ss} {level} {_shortCategory}: {formatter(state, exception)}"));
        }
    }
}
