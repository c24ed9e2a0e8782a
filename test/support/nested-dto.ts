import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsString, ValidateNested } from 'class-validator';

/** A flat DTO: one validated field, no class-transformer metadata. */
export class Point {
  @IsInt() x!: number;
}

/** A DTO nesting another through class-transformer's `@Type`. */
export class Shape {
  @IsString() name!: string;
  @ValidateNested() @Type(() => Point) origin!: Point;
}
