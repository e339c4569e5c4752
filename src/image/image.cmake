# Image decoding libraries for src/image (the ImageDecoder op, the sample app), found with pkg-config. Each one is
# optional: without it kiln still builds, and that format fails at run time with KILN_ERR_UNSUPPORTED naming the
# missing library. -DKILN_WITH_TIFF=OFF (JPEG, PNG, WEBP, OPENJPEG) leaves one out on purpose.
#
# They are linked statically where their archives exist (KILN_IMAGE_STATIC), so that a kiln binary also runs on
# machines without these shared libraries (the GPU machine has none of libjpeg62-turbo, libtiff6, ...).
option(KILN_IMAGE_STATIC "Link the image decoding libraries statically when their archives exist" ON)
find_package(PkgConfig QUIET)

function(kiln_image_library name module define)
  option(KILN_WITH_${name} "Decode ${name} images with ${module} when pkg-config finds it" ON)
  if(NOT KILN_WITH_${name})
    message(STATUS "kiln: ${name} decoding off (KILN_WITH_${name}=OFF)")
    return()
  endif()
  if(NOT PKG_CONFIG_FOUND)
    message(STATUS "kiln: ${name} decoding off (pkg-config not found)")
    return()
  endif()
  set(p KILN_IMG_${name})
  pkg_check_modules(${p} QUIET ${module})
  if(NOT ${p}_FOUND)
    message(STATUS "kiln: ${name} decoding off (${module} not found)")
    return()
  endif()

  set(how shared)
  set(libs ${${p}_LINK_LIBRARIES})
  if(KILN_IMAGE_STATIC)
    set(how static)
    set(static_libs)
    set(cxx OFF)
    set(names ${${p}_STATIC_LIBRARIES})
    list(REMOVE_DUPLICATES names) # keeps first occurrences: dependants still come before what they need
    foreach(l IN LISTS names)
      if(l MATCHES "^(m|pthread|dl|rt)$")
        list(APPEND static_libs ${l})
        continue()
      endif()
      find_library(KILN_IMG_ARCHIVE_${l} NAMES lib${l}.a HINTS ${${p}_STATIC_LIBRARY_DIRS})
      if(NOT KILN_IMG_ARCHIVE_${l})
        set(how "shared: no lib${l}.a")
        break()
      endif()
      list(APPEND static_libs ${KILN_IMG_ARCHIVE_${l}})
      if(l STREQUAL "Lerc") # libtiff's LERC codec is C++
        set(cxx ON)
      endif()
    endforeach()
    if(how STREQUAL "static")
      set(libs ${static_libs})
      if(cxx) # the C++ runtime too, statically where the compiler has it: kiln stays a plain C dependency
        execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libstdc++.a OUTPUT_VARIABLE stdcxx
                        OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(IS_ABSOLUTE "${stdcxx}" AND EXISTS "${stdcxx}")
          list(APPEND libs ${stdcxx} m)
        else()
          list(APPEND libs stdc++ m)
        endif()
      endif()
    endif()
  endif()

  target_include_directories(kiln SYSTEM PRIVATE ${${p}_INCLUDE_DIRS})
  target_compile_definitions(kiln PRIVATE ${define}=1)
  target_link_libraries(kiln PRIVATE ${libs})
  message(STATUS "kiln: ${name} decoding with ${module} ${${p}_VERSION} (${how})")
endfunction()

kiln_image_library(JPEG libjpeg KILN_HAVE_JPEG)
kiln_image_library(PNG libpng KILN_HAVE_PNG)
kiln_image_library(TIFF libtiff-4 KILN_HAVE_TIFF)
kiln_image_library(WEBP libwebp KILN_HAVE_WEBP)
kiln_image_library(OPENJPEG libopenjp2 KILN_HAVE_OPENJPEG)
