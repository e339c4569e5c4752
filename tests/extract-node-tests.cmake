# Extracts TARBALL into DEST unless a previous run completed (the marker is written last, so an interrupted
# extraction is redone).
if(NOT EXISTS "${DEST}/.extracted")
  file(REMOVE_RECURSE "${DEST}")
  file(MAKE_DIRECTORY "${DEST}")
  file(ARCHIVE_EXTRACT INPUT "${TARBALL}" DESTINATION "${DEST}")
  file(TOUCH "${DEST}/.extracted")
endif()
