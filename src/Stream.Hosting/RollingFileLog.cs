using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Streaming.Hosting;

/// <summary>
/// Keeps the log in files while the live table owns the terminal: <c>{directory}/stream.log</c>, rotated at
/// <see cref="MaxBytes"/> to <c>stream.1.log</c> .. <c>stream.{Keep}.log</c> (the oldest dropped). Loggers only queue the
/// line; one writer loop owns the file. When the queue is full a line is dropped and counted rather than slowing a stage;
/// the count is written into the file.
/// </summary>
internal sealed class RollingFileLog : ILoggerProvider
{
    public const long MaxBytes = 10L << 20;
    public const int Keep = 5;
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(4096)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        SingleWriter = false,
    });

    private readonly string _directory;
    private readonly Task _writer;
    private long _dropped;

    public RollingFileLog(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        _writer = Task.Run(WriteAsync);
    }

    public string Path => System.IO.Path.Combine(_directory, "stream.log");

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(5));
    }

    private void Enqueue(string line)
    {
        if (!_lines.Writer.TryWrite(line))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteAsync()
    {
        var reader = _lines.Reader;
        var file = Open();
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var line))
                {
                    if (Interlocked.Exchange(ref _dropped, 0) is > 0 and var dropped)
                    {
                        await file.WriteLineAsync($"(log queue full: {dropped} lines dropped)").ConfigureAwait(false);
                    }

                    await file.WriteAsync(line).ConfigureAwait(false);
                    if (file.BaseStream.Length >= MaxBytes)
                    {
                        await file.DisposeAsync().ConfigureAwait(false);
                        Rotate();
                        file = Open();
                    }
                }

                await file.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // A full or vanished disk must not take the pipeline down: the log stops, the table goes on.
        }
        finally
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }
    }

    private StreamWriter Open() => new(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));

    private void Rotate()
    {
        string Numbered(int i) => System.IO.Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $"stream.{i}.log"));
        File.Delete(Numbered(Keep));
        for (var i = Keep - 1; i >= 1; i--)
        {
            if (File.Exists(Numbered(i)))
            {
                File.Move(Numbered(i), Numbered(i + 1));
            }
        }

        File.Move(Path, Numbered(1));
    }

    private sealed class FileLogger(RollingFileLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var text = string.Create(CultureInfo.InvariantCulture,
                $"{DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss.fff zzz} {logLevel,-11} {category}[{eventId.Id}] {formatter(state, exception)}\n");
            owner.Enqueue(exception is null ? text : text + exception + "\n");
        }
    }
}
