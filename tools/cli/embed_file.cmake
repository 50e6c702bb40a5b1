# Writes OUT: a C++ source defining fff::cli::EmbeddedTokenizerJson() that
# returns the bytes of IN (as hex, so any content is safe).
file(READ ${IN} _hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," _bytes "${_hex}")
file(WRITE ${OUT} "// Generated from ${IN}: do not edit.\nnamespace fff::cli {\nnamespace {\nconst char kData[] = {${_bytes} 0};\n}\nconst char* EmbeddedTokenizerJson() { return kData; }\n}  // namespace fff::cli\n")
