using System.Collections;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Streaming.Core;

/// <summary>
/// What the configuration binder would silently ignore or stop at, as one-line problems naming the key: keys that no
/// options property reads (a misspelt key would otherwise leave its default in place) and values that do not convert
/// to the property's type (<c>Detect:StalenessMs=99999999999</c>), with the valid range or values. Walks the
/// configuration against the options type's public properties, into nested objects, lists and dictionaries; names
/// are compared case-insensitively, as the binder does. <see cref="Bind"/> binds everything else, so that one bad
/// value does not hide the problems of the keys after it.
/// </summary>
public static class ConfigurationChecks
{
    /// <summary>One line per unknown key or unconvertible value under <paramref name="section"/>, read as <paramref name="type"/>.</summary>
    public static IReadOnlyList<string> Problems(IConfiguration section, Type type)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(type);
        return [.. Walk(section, type, null).Select(p => p.Message)];
    }

    /// <summary>
    /// Binds <paramref name="section"/> onto <paramref name="target"/> like <c>ConfigurationBinder.Bind</c>, leaving out
    /// the values that <see cref="Problems"/> reports (they fail validation instead of throwing at the first one).
    /// </summary>
    public static void Bind(IConfiguration section, object target)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(target);
        var bad = Walk(section, target.GetType(), null).Where(p => p.Unconvertible).Select(p => p.Path).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (bad.Count == 0)
        {
            section.Bind(target);
            return;
        }

        var prefix = section is IConfigurationSection s ? s.Path + ConfigurationPath.KeyDelimiter : string.Empty;
        var kept = section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !bad.Contains(prefix + kv.Key));
        new ConfigurationBuilder().AddInMemoryCollection(kept).Build().Bind(target);
    }

    /// <summary>A new <typeparamref name="T"/> bound with <see cref="Bind"/> (defaults where the section is absent).</summary>
    public static T Get<T>(IConfiguration section)
        where T : new()
    {
        var value = new T();
        Bind(section, value);
        return value;
    }

    private readonly record struct Problem(string Path, string Message, bool Unconvertible);

    private static IEnumerable<Problem> Walk(IConfiguration node, Type type, PropertyInfo? property)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(type))
        {
            if (node is IConfigurationSection { Value: { Length: > 0 } value } scalar && !Converts(value, type))
            {
                yield return new Problem(scalar.Path, $"{scalar.Path} is '{Shorten(value)}': it must be {Expected(type, property)}", true);
            }

            yield break;
        }

        var element = ElementType(type, out var isDictionary);
        if (element is not null)
        {
            foreach (var child in node.GetChildren())
            {
                if (!isDictionary && !int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    yield return new Problem(child.Path, $"config key '{child.Path}' is unknown: a list is expected here (write {Parent(child.Path)}:0, {Parent(child.Path)}:1, ...)", false);
                    continue;
                }

                foreach (var problem in Walk(child, element, null))
                {
                    yield return problem;
                }
            }

            yield break;
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in node.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var known))
            {
                yield return new Problem(child.Path, $"config key '{child.Path}' is unknown: check its spelling against config/pipeline.json", false);
                continue;
            }

            foreach (var problem in Walk(child, known.PropertyType, known))
            {
                yield return problem;
            }
        }
    }

    private static bool Converts(string value, Type type)
    {
        if (type == typeof(string) || type == typeof(object))
        {
            return true;
        }

        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>What a valid value looks like: the property's [Range] when it has one, else the type's own range.</summary>
    private static string Expected(Type type, PropertyInfo? property)
    {
        var range = property?.GetCustomAttribute<RangeAttribute>();
        var whole = type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(uint) || type == typeof(ulong);
        if (range is not null)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{(whole ? "a whole number" : "a number")} between {range.Minimum} and {range.Maximum}");
        }

        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        if (type == typeof(bool))
        {
            return "true or false";
        }

        if (whole)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"a whole number between {type.GetField("MinValue")!.GetValue(null)} and {type.GetField("MaxValue")!.GetValue(null)}");
        }

        return type == typeof(double) || type == typeof(float) || type == typeof(decimal) ? "a number (e.g. 0.5)" : $"a {type.Name}";
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "...";

    private static string Parent(string path) => ConfigurationPath.GetParentPath(path) ?? path;

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri) || type == typeof(object);

    private static Type? ElementType(Type type, out bool isDictionary)
    {
        isDictionary = false;
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var dictionary = type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        if (dictionary is not null)
        {
            isDictionary = true;
            return dictionary.GetGenericArguments()[1];
        }

        var enumerable = type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable is not null && typeof(IEnumerable).IsAssignableFrom(type) ? enumerable.GetGenericArguments()[0] : null;
    }
}
