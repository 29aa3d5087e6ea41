import ArgumentParser
import EdgeCollector
@main struct TallyEdgeMain { static func main() {} }
