namespace MiniLb.Operator;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("minilb: not built yet");
        return 2;
    }
}
