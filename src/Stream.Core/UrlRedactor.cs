using System.Text.RegularExpressions;

namespace Streaming.Core;

/// <summary>Removes credentials from URLs and from any text that may contain URLs (errors, ffmpeg output).</summary>
public static partial class UrlRedactor
{
    public const string Mask = "***";

    // NonBacktracking: linear in the text's length. The backtracking engine retried the scheme at every letter of a long
    // URL, so a 400,000-character camera URL took 15-30 s to redact (each API listing of it as long again).
    [GeneratedRegex(@"(?<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?<userinfo>[^/@\s]*)@", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex UserInfo();

    [GeneratedRegex(@"(?<key>(password|passwd|pwd|token|secret|sasl\.password)\s*[=:]\s*)(?<value>[^&\s;,]+)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase | RegexOptions.NonBacktracking)]
    private static partial Regex SecretParameter();

    /// <summary><c>rtsp://user:pass@host/x</c> becomes <c>rtsp://***@host/x</c>; secrets in query strings are masked too.</summary>
    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        var s = UserInfo().Replace(text, m => m.Groups["scheme"].Value + Mask + "@");
        return SecretParameter().Replace(s, m => m.Groups["key"].Value + Mask);
    }
}
