using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Streaming.App.Hosting;

/// <summary>
/// Finds configuration keys that no options property reads (a misspelt key would otherwise be silently ignored and
/// its default used). Walks the configuration against the options types' public settable properties, recursing into
/// nested objects, lists and dictionaries; names are compared case-insensitively, as the binder does.
/// </summary>
internal static class ConfigKeyChecker
{
    public static IEnumerable<string> UnknownKeys(IConfiguration section, Type type)
    {
        ArgumentNullException.ThrowIfNull(section);
        var path = section is IConfigurationSection s ? s.Path : string.Empty;
        return Walk(section, type, path);
    }

    private static IEnumerable<string> Walk(IConfiguration node, Type type, string path)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(type))
        {
            yield break;
        }

        var element = ElementType(type, out var isDictionary);
        if (element is not null)
        {
            foreach (var child in node.GetChildren())
            {
                if (!isDictionary && !int.TryParse(child.Key, out _))
                {
                    yield return $"{child.Path}: expected a list here";
                    continue;
                }

                foreach (var unknown in Walk(child, element, child.Path))
                {
                    yield return unknown;
                }
            }

            yield break;
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in node.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                yield return child.Path;
                continue;
            }

            foreach (var unknown in Walk(child, property.PropertyType, child.Path))
            {
                yield return unknown;
            }
        }
    }

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
