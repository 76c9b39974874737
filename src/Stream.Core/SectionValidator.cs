using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Streaming.Core;

/// <summary>
/// The one validation of an options section: the DataAnnotations validator that the <c>[OptionsValidator]</c> source
/// generator writes, plus hand-written <see cref="IValidateOptions{TOptions}"/> for cross-field rules, all run
/// together so that every problem is listed at once, one line each, naming the configuration key
/// (<c>Detect:MaxBatch</c>) and the fix. The host registers it for <c>ValidateOnStart</c>; code that builds options
/// itself (benchmarks, tools, a tracker made in a test) calls <see cref="Problems"/> on the same instance.
/// </summary>
public sealed partial class SectionValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    private readonly IValidateOptions<TOptions>[] _validators;

    /// <param name="section">The configuration key of the section (e.g. <c>Detect</c>, <c>Sink</c>), which every message starts from.</param>
    /// <param name="validators">The generated validator first, then the cross-field rules.</param>
    public SectionValidator(string section, params IValidateOptions<TOptions>[] validators)
    {
        ArgumentException.ThrowIfNullOrEmpty(section);
        ArgumentNullException.ThrowIfNull(validators);
        Section = section;
        _validators = validators;
    }

    public string Section { get; }

    /// <summary>Every problem of <paramref name="options"/>, one line each; empty when valid.</summary>
    public IReadOnlyList<string> Problems(TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        foreach (var validator in _validators)
        {
            var result = validator.Validate(Section, options);
            if (result.Failed)
            {
                problems.AddRange(OptionsMessages.ToConfigKeys(result.Failures ?? [result.FailureMessage], Section, Section));
            }
        }

        return problems;
    }

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var problems = Problems(options);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

/// <summary>Turns the generated validators' messages ("MaxBatch: The field Detect.MaxBatch must be ...") into lines that name the configuration key.</summary>
public static partial class OptionsMessages
{
    /// <summary>
    /// Rewrites each failure: the display path <paramref name="displayRoot"/><c>.A.B[2].C</c> becomes the key
    /// <paramref name="keyRoot"/><c>:A:B:2:C</c> (just <c>A:B:2:C</c> when <paramref name="keyRoot"/> is empty), the
    /// member-name prefix that repeats it is dropped, and the stock DataAnnotations sentences are turned around so that
    /// each line starts with the key.
    /// </summary>
    public static IEnumerable<string> ToConfigKeys(IEnumerable<string> failures, string displayRoot, string keyRoot)
    {
        ArgumentNullException.ThrowIfNull(failures);
        var path = new Regex(@"(?<![\w.:/\\])" + Regex.Escape(displayRoot) + @"((?:\[\d+\])*\.\w+(?:\.\w+|\[\d+\])*)", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        foreach (var failure in failures)
        {
            var text = failure;
            var prefix = MemberPrefix().Match(text);
            if (prefix.Success && path.IsMatch(text[prefix.Length..]))
            {
                text = text[prefix.Length..];
            }

            text = path.Replace(text, m =>
            {
                var rest = m.Groups[1].Value.Replace("[", ".", StringComparison.Ordinal).Replace("]", string.Empty, StringComparison.Ordinal)
                    .Replace('.', ':');
                return keyRoot.Length == 0 ? rest.TrimStart(':') : keyRoot + rest;
            });
            text = OutOfRange().Replace(text, "$1 is out of range: it must be between $2");
            text = IsRequired().Replace(text, "$1 is required: set it");
            yield return text;
        }
    }

    [GeneratedRegex(@"^[\w, ]+: ", RegexOptions.CultureInvariant)]
    private static partial Regex MemberPrefix();

    [GeneratedRegex(@"^The field (\S+) must be between (.*?)\.?$", RegexOptions.CultureInvariant)]
    private static partial Regex OutOfRange();

    [GeneratedRegex(@"^The (\S+) field is required\.$", RegexOptions.CultureInvariant)]
    private static partial Regex IsRequired();
}

public static class CheckedOptionsBuilderExtensions
{
    /// <summary>
    /// Binds the options from <paramref name="section"/> (reloaded with it) and rejects, as validation failures listed
    /// with all the others, every key no property reads and every value that does not convert. <paramref name="target"/>
    /// picks the object the section binds to when it is not the options object itself (e.g. a list property).
    /// </summary>
    public static OptionsBuilder<TOptions> BindChecked<TOptions>(this OptionsBuilder<TOptions> builder, IConfiguration section, Func<TOptions, object>? target = null)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        var pick = target ?? (o => o);
        builder.Configure(o => ConfigurationChecks.Bind(section, pick(o)));
        builder.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(new ConfigurationChangeTokenSource<TOptions>(builder.Name, section));
        builder.Services.AddSingleton<IValidateOptions<TOptions>>(new ConfigurationKeysValidator<TOptions>(builder.Name, section, pick));
        return builder;
    }

    /// <summary>Adds <paramref name="validator"/> (the section's generated and cross-field validation) to the options' validators.</summary>
    public static OptionsBuilder<TOptions> ValidateWith<TOptions>(this OptionsBuilder<TOptions> builder, IValidateOptions<TOptions> validator)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton(validator);
        return builder;
    }

    private sealed class ConfigurationKeysValidator<TOptions>(string? name, IConfiguration section, Func<TOptions, object> target) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? optionsName, TOptions options)
        {
            if (name is not null && optionsName != name)
            {
                return ValidateOptionsResult.Skip;
            }

            var problems = ConfigurationChecks.Problems(section, target(options).GetType());
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
