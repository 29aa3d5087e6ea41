#!/usr/bin/env ruby
# The referer database's own reader (Debian's ruby-referer-parser), as a reference for Tally's lookup:
# reads one referrer URL per line on stdin, prints one JSON object per line:
# {"known": true, "medium": "search", "source": "Google"} or {"known": false}.
require 'json'
require 'referer-parser'

parser = RefererParser::Parser.new
STDIN.each_line do |line|
  url = line.strip
  begin
    data = parser.parse(url)
    puts JSON.generate(data[:known] ? { known: true, medium: data[:medium].to_s, source: data[:source] } : { known: false })
  rescue RefererParser::InvalidUriError
    puts JSON.generate({ known: false })
  end
end
