# Writes OUT, the man page IN gzipped (-9n: best compression, no name or time stamp, so the
# package is reproducible), with the version on its .TH line set to VERSION: the installed
# pages name the version project() sets, whatever the source pages say.
# Usage: cmake -DIN=man/edge.1 -DOUT=build/man/edge.1.gz -DVERSION=0.2.0 -DGZIP=/bin/gzip -P edge_man.cmake
file(READ "${IN}" page)
string(REGEX REPLACE "(\n\\.TH [^\n]*\")edge [^\"\n]*\"" "\\1edge ${VERSION}\"" page "\n${page}")
string(SUBSTRING "${page}" 1 -1 page)
get_filename_component(name "${IN}" NAME)
set(plain "${OUT}.tmp/${name}")
file(WRITE "${plain}" "${page}")
execute_process(COMMAND "${GZIP}" -9n -c "${plain}" OUTPUT_FILE "${OUT}" RESULT_VARIABLE rc)
file(REMOVE_RECURSE "${OUT}.tmp")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${IN} failed: ${rc}")
endif()
