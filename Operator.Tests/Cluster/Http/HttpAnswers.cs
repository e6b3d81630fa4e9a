using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace MiniLb.Operator.Tests.Cluster;

/// <summary>Writing JSON answers: plain <c>application/json</c>, which also declines aggregated discovery.</summary>
public static class HttpAnswers
{
    public static async Task WriteJsonAsync(HttpContext context, JsonNode body, int code = 200)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    public static Task WriteStatusAsync(HttpContext context, ApiError error) =>
        WriteJsonAsync(context, error.ToStatus(), error.Code);
}
