# Makes one gzipped man page from a program's --help with help2man; run at build time by
# Packaging.cmake: cmake -D... -P ManPage.cmake.
#   PROGRAM      the built program            NAME     its installed name (lx)
#   WHAT         the NAME line's description  VERSION  the project's version
#   HELP2MAN     help2man                     GZIP     gzip
#   INCLUDE      a help2man include file (FILES, SEE ALSO)
#   SUBCOMMANDS  commands whose `NAME COMMAND --help` go in a COMMANDS section, comma-separated
#                (optional)
#   DIR          where NAME.1.gz is written
# Our programs say "usage:"; help2man makes the SYNOPSIS from a "Usage:" line, so it runs the
# program through a wrapper that says it so.
foreach(v PROGRAM NAME WHAT VERSION HELP2MAN GZIP INCLUDE DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "ManPage.cmake: ${v} is not set")
  endif()
endforeach()

set(work ${DIR}/${NAME}.work)
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})
file(WRITE ${work}/${NAME} "#!/bin/sh\n\"${PROGRAM}\" \"$@\" | sed '1s/^usage:/Usage:/'\n")
file(CHMOD ${work}/${NAME} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

# The include file: the static one, then each command's own --help, verbatim.
file(READ ${INCLUDE} include)
if(SUBCOMMANDS)
  string(REPLACE "," ";" SUBCOMMANDS "${SUBCOMMANDS}")
  string(APPEND include "[COMMANDS]\nEach command's own \\fB\\-\\-help\\fR:\n")
  foreach(cmd IN LISTS SUBCOMMANDS)
    execute_process(COMMAND ${PROGRAM} ${cmd} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${PROGRAM} ${cmd} --help failed (${rc})")
    endif()
    # roff: backslashes escaped, no line taken for a request.
    string(REPLACE "\\" "\\e" help "${help}")
    string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
    string(APPEND include ".PP\n.B ${NAME} ${cmd}\n.RS 4\n.nf\n${help}.fi\n.RE\n")
  endforeach()
endif()
file(WRITE ${work}/include.h2m "${include}")

# The page's date is today's, or SOURCE_DATE_EPOCH's when set (help2man reads it); gzip -n puts
# no time stamp of its own.
execute_process(
  COMMAND ${HELP2MAN} --no-info --section=1 --name=${WHAT} --version-string=${VERSION} --source=lxhost
          --include=${work}/include.h2m --output=${DIR}/${NAME}.1 ${work}/${NAME}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man ${NAME} failed: ${err}")
endif()
execute_process(COMMAND ${GZIP} -9nf ${DIR}/${NAME}.1 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${DIR}/${NAME}.1 failed")
endif()
file(REMOVE_RECURSE ${work})
