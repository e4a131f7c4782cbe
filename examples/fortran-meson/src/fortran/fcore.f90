! Numerical kernels of mw_fortran, wrapped for Python by numpy.f2py.
! Reals are written real(8) (not real(kind=dp) with a module parameter), so that f2py
! maps them to C double without a .f2py_f2cmap file.
module fcore
  implicit none
contains

  ! The sum of the squares of x(1:n).
  subroutine fsum_squares(x, n, total)
    integer, intent(in) :: n
    real(8), intent(in) :: x(n)
    real(8), intent(out) :: total
    !f2py integer, intent(hide), depend(x) :: n = len(x)
    integer :: i

    total = 0.0d0
    do i = 1, n
      total = total + x(i) * x(i)
    end do
  end subroutine fsum_squares

  ! The dot product of x(1:n) and y(1:n).
  subroutine fdot(x, y, n, total)
    integer, intent(in) :: n
    real(8), intent(in) :: x(n), y(n)
    real(8), intent(out) :: total
    !f2py integer, intent(hide), depend(x) :: n = len(x)

    total = dot_product(x, y)
  end subroutine fdot

  ! A one-line summary of x, formatted with Fortran I/O (an internal write). This needs
  ! the gfortran runtime, so the extension links libgfortran and auditwheel bundles it.
  subroutine fdescribe(x, n, text)
    integer, intent(in) :: n
    real(8), intent(in) :: x(n)
    character(len=80), intent(out) :: text
    !f2py integer, intent(hide), depend(x) :: n = len(x)
    real(8) :: total

    call fsum_squares(x, n, total)
    write(text, '(a, i0, a, es12.5)') 'n=', n, ' sum_squares=', total
  end subroutine fdescribe

end module fcore
