#!/usr/bin/perl
# Dumps the CGI environment, one NAME=value a line, sorted.
print "Content-Type: text/plain\n\n";
print "$_=$ENV{$_}\n" for sort keys %ENV;
