"""nbgrader's settings for the course: run `nbgrader generate_assignment session_1` (and autograde,
and so on) from this folder, which is the course directory (source/, release/, submitted/,
autograded/ and the gradebook)."""

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = "codeset-course"
c.CourseDirectory.root = "."
# An answer cell keeps the line above its solution (e.g. `answer = None`) and gets this in place of
# the solution, so a released notebook runs top to bottom and an untouched answer gets a first hint.
c.ClearSolutions.code_stub = {"python": "# YOUR ANSWER HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
